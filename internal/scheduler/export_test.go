package scheduler

// SetMemo turns the failure memo (memo.go) on or off and returns a func
// that restores the previous setting.
func SetMemo(on bool) (restore func()) {
	old := memoEnabled
	memoEnabled = on
	return func() { memoEnabled = old }
}

// BaseDiff describes how the state s keeps for its next cycle differs from
// one built from snap at now ("" when it does not).
var BaseDiff = baseDiff
