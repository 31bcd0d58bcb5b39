// Package policy evaluates Policy objects: CEL admission rules that
// validate (deny, or warn) and default fields of the objects they match.
//
// Expressions are compiled once per policy resourceVersion and see three
// variables: object (the object being written, as JSON-shaped maps, lists
// and scalars), oldObject (the stored object on update, null on create) and
// request (user, namespace, operation, kind). The environment is cel-go's
// standard library plus quantity() (Kubernetes resource quantities, see
// quantity.go); it has no network, file or clock functions. Each evaluation
// runs under a cost budget, and an expression that errors or exceeds it
// denies the write (fail closed) with a reason naming the policy and rule.
package policy
