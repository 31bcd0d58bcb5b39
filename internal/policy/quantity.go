package policy

import (
	"fmt"
	"math"
	"reflect"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"k8s.io/apimachinery/pkg/api/resource"
)

// QuantityType is the CEL type of quantity(): the same name Kubernetes'
// CEL library uses, so rules read the same in Kubernetes mode.
var QuantityType = cel.OpaqueType("kubernetes.Quantity")

// quantityVal is a resource.Quantity as a CEL value.
type quantityVal struct{ q resource.Quantity }

func (v quantityVal) ConvertToNative(t reflect.Type) (any, error) {
	switch t {
	case reflect.TypeOf(resource.Quantity{}):
		return v.q, nil
	case reflect.TypeOf(&resource.Quantity{}):
		q := v.q
		return &q, nil
	case reflect.TypeOf(""):
		return v.q.String(), nil
	}
	return nil, fmt.Errorf("a quantity cannot become %v", t)
}

func (v quantityVal) ConvertToType(t ref.Type) ref.Val {
	switch t {
	case QuantityType:
		return v
	case types.StringType:
		return types.String(v.q.String())
	case types.TypeType:
		return QuantityType
	}
	return types.NewErr("type conversion error from %s to %s", QuantityType, t)
}

func (v quantityVal) Equal(other ref.Val) ref.Val {
	o, ok := other.(quantityVal)
	if !ok {
		return types.MaybeNoSuchOverloadErr(other)
	}
	return types.Bool(v.q.Equal(o.q))
}

func (v quantityVal) Type() ref.Type { return QuantityType }
func (v quantityVal) Value() any     { return v.q }

func asQuantity(v ref.Val) (resource.Quantity, bool) {
	q, ok := v.(quantityVal)
	return q.q, ok
}

// quantityLib declares quantity(string), isQuantity(string) and the
// methods of Kubernetes' quantity library: compareTo, isGreaterThan,
// isLessThan, add, sub, asInteger, isInteger, asApproximateFloat, sign.
func quantityLib() cel.EnvOption {
	Q := QuantityType
	binQ := func(f func(a, b resource.Quantity) ref.Val) cel.OverloadOpt {
		return cel.BinaryBinding(func(a, b ref.Val) ref.Val {
			x, ok1 := asQuantity(a)
			y, ok2 := asQuantity(b)
			if !ok1 || !ok2 {
				return types.MaybeNoSuchOverloadErr(b)
			}
			return f(x, y)
		})
	}
	unQ := func(f func(a resource.Quantity) ref.Val) cel.OverloadOpt {
		return cel.UnaryBinding(func(a ref.Val) ref.Val {
			x, ok := asQuantity(a)
			if !ok {
				return types.MaybeNoSuchOverloadErr(a)
			}
			return f(x)
		})
	}
	return cel.Lib(&lib{opts: []cel.EnvOption{
		cel.Function("quantity", cel.Overload("string_to_quantity", []*cel.Type{cel.StringType}, Q,
			cel.UnaryBinding(func(a ref.Val) ref.Val {
				s, ok := a.(types.String)
				if !ok {
					return types.MaybeNoSuchOverloadErr(a)
				}
				q, err := resource.ParseQuantity(string(s))
				if err != nil {
					return types.NewErr("quantity(%q): not a quantity such as 1, 500m or 64Mi", string(s))
				}
				return quantityVal{q}
			}))),
		cel.Function("isQuantity", cel.Overload("is_quantity_string", []*cel.Type{cel.StringType}, cel.BoolType,
			cel.UnaryBinding(func(a ref.Val) ref.Val {
				s, ok := a.(types.String)
				if !ok {
					return types.MaybeNoSuchOverloadErr(a)
				}
				_, err := resource.ParseQuantity(string(s))
				return types.Bool(err == nil)
			}))),
		cel.Function("compareTo", cel.MemberOverload("quantity_compareTo", []*cel.Type{Q, Q}, cel.IntType,
			binQ(func(a, b resource.Quantity) ref.Val { return types.Int(a.Cmp(b)) }))),
		cel.Function("isGreaterThan", cel.MemberOverload("quantity_isGreaterThan", []*cel.Type{Q, Q}, cel.BoolType,
			binQ(func(a, b resource.Quantity) ref.Val { return types.Bool(a.Cmp(b) > 0) }))),
		cel.Function("isLessThan", cel.MemberOverload("quantity_isLessThan", []*cel.Type{Q, Q}, cel.BoolType,
			binQ(func(a, b resource.Quantity) ref.Val { return types.Bool(a.Cmp(b) < 0) }))),
		cel.Function("add",
			cel.MemberOverload("quantity_add", []*cel.Type{Q, Q}, Q,
				binQ(func(a, b resource.Quantity) ref.Val { a.Add(b); return quantityVal{a} })),
			cel.MemberOverload("quantity_add_int", []*cel.Type{Q, cel.IntType}, Q,
				cel.BinaryBinding(func(a, b ref.Val) ref.Val {
					x, ok := asQuantity(a)
					n, ok2 := b.(types.Int)
					if !ok || !ok2 {
						return types.MaybeNoSuchOverloadErr(b)
					}
					x.Add(*resource.NewQuantity(int64(n), resource.DecimalSI))
					return quantityVal{x}
				}))),
		cel.Function("sub",
			cel.MemberOverload("quantity_sub", []*cel.Type{Q, Q}, Q,
				binQ(func(a, b resource.Quantity) ref.Val { a.Sub(b); return quantityVal{a} }))),
		cel.Function("asInteger", cel.MemberOverload("quantity_asInteger", []*cel.Type{Q}, cel.IntType,
			unQ(func(a resource.Quantity) ref.Val {
				n, ok := a.AsInt64()
				if !ok {
					return types.NewErr("asInteger: %s is not a whole number that fits in an int; check isInteger() first", a.String())
				}
				return types.Int(n)
			}))),
		cel.Function("isInteger", cel.MemberOverload("quantity_isInteger", []*cel.Type{Q}, cel.BoolType,
			unQ(func(a resource.Quantity) ref.Val { _, ok := a.AsInt64(); return types.Bool(ok) }))),
		cel.Function("asApproximateFloat", cel.MemberOverload("quantity_asApproximateFloat", []*cel.Type{Q}, cel.DoubleType,
			unQ(func(a resource.Quantity) ref.Val {
				f := a.AsApproximateFloat64()
				if math.IsInf(f, 0) || math.IsNaN(f) {
					return types.NewErr("asApproximateFloat: %s is out of range", a.String())
				}
				return types.Double(f)
			}))),
		cel.Function("sign", cel.MemberOverload("quantity_sign", []*cel.Type{Q}, cel.IntType,
			unQ(func(a resource.Quantity) ref.Val { return types.Int(a.Sign()) }))),
	}})
}

type lib struct{ opts []cel.EnvOption }

func (l *lib) CompileOptions() []cel.EnvOption     { return l.opts }
func (l *lib) ProgramOptions() []cel.ProgramOption { return nil }
