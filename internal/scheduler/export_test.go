package scheduler

// SetMemo turns the failure memo (memo.go) on or off and returns a func
// that restores the previous setting.
func SetMemo(on bool) (restore func()) {
	old := memoEnabled
	memoEnabled = on
	return func() { memoEnabled = old }
}
