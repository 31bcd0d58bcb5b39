package controller

// SameShapeForTest exposes sameShape to the package's external tests.
var SameShapeForTest = sameShape
