package v1alpha1

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// userName allows the characters of e-mail addresses and service-account
// style names, and nothing that could break a log line or a header.
var userName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@:+-]{0,127}$`)

// fieldPath is a dotted path of JSON names, as Policy defaults take.
var fieldPath = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)

func validateNamespaceSpec(s *NamespaceSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	lp := p.Child("limits")
	if q := s.Limits.GPUs; q != nil && q.Sign() < 0 {
		errs = append(errs, detail(lp.Child("gpus"), "must not be negative: use 0 or more, or remove it for no cap"))
	}
	if n := s.Limits.RunningJobs; n != nil && *n < 0 {
		errs = append(errs, detail(lp.Child("runningJobs"), "must not be negative: use 0 or more, or remove it for no cap"))
	}
	if n := s.Limits.Services; n != nil && *n < 0 {
		errs = append(errs, detail(lp.Child("services"), "must not be negative: use 0 or more, or remove it for no cap"))
	}
	return errs
}

// ReservedAdminUser is the user name of the admin token.
const ReservedAdminUser = "admin"

// ValidRole reports whether r is a role a token can carry.
func ValidRole(r string) bool { return r == RoleViewer || r == RoleEditor || r == RoleAdmin }

func validateTokenSpec(s *TokenSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if !userName.MatchString(s.User) {
		errs = append(errs, detail(p.Child("user"), fmt.Sprintf("%q is not a user name: use 1 to 128 letters, digits and . _ @ : + - (starting with a letter or digit)", s.User)))
	} else if s.User == ReservedAdminUser || strings.HasPrefix(s.User, "system:") {
		// The audit log and policies' request.user must not be able to
		// mistake a tenant's token for the cluster admin or the server.
		errs = append(errs, detail(p.Child("user"), fmt.Sprintf("%q is reserved for the admin token and the server: choose another user name", s.User)))
	}
	if s.Namespace == "" {
		errs = append(errs, detail(p.Child("namespace"), "required: name the namespace the token may reach"))
	} else {
		errs = append(errs, dnsLabel(p.Child("namespace"), s.Namespace)...)
	}
	if !ValidRole(s.Role) {
		errs = append(errs, detail(p.Child("role"), fmt.Sprintf("%q is not a role: use viewer, editor or admin", s.Role)))
	}
	if s.TTL != nil && s.TTL.Duration <= 0 {
		errs = append(errs, detail(p.Child("ttl"), "must be positive, e.g. 720h: remove it for a token that does not expire"))
	}
	return errs
}

func validatePolicySpec(s *PolicySpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	mp := p.Child("match")
	for i, k := range s.Match.Kinds {
		if kk, ok := LookupKind(k); !ok || kk.Kind != k {
			errs = append(errs, detail(mp.Child("kinds").Index(i), fmt.Sprintf("%q is not a kind: use the Kind name, e.g. Job", k)))
		}
	}
	for i, ns := range s.Match.Namespaces {
		errs = append(errs, dnsLabel(mp.Child("namespaces").Index(i), ns)...)
	}
	if len(s.Validate) == 0 && len(s.Default) == 0 {
		errs = append(errs, detail(p, "a policy needs at least one validate or default rule"))
	}
	for i, v := range s.Validate {
		vp := p.Child("validate").Index(i)
		if strings.TrimSpace(v.Expression) == "" {
			errs = append(errs, detail(vp.Child("expression"), "required: write a CEL expression that is true for allowed objects"))
		}
		if v.Action != PolicyDeny && v.Action != PolicyWarn {
			errs = append(errs, detail(vp.Child("action"), fmt.Sprintf("%q is not an action: use Deny or Warn", v.Action)))
		}
	}
	if len(s.Default) > MaxPolicyDefaults {
		errs = append(errs, detail(p.Child("default"), fmt.Sprintf("%d default rules: use at most %d per policy", len(s.Default), MaxPolicyDefaults)))
	}
	for i, d := range s.Default {
		dp := p.Child("default").Index(i)
		if len(d.Field) > MaxPolicyFieldPathLen {
			errs = append(errs, detail(dp.Child("field"), fmt.Sprintf("is longer than %d characters: name a shorter field path", MaxPolicyFieldPathLen)))
		} else if !fieldPath.MatchString(d.Field) {
			errs = append(errs, detail(dp.Child("field"), fmt.Sprintf("%q is not a field path: write dotted JSON names such as spec.priority", d.Field)))
		} else if f := strings.SplitN(d.Field, ".", 2)[0]; f == "metadata" || f == "status" || f == "apiVersion" || f == "kind" {
			errs = append(errs, detail(dp.Child("field"), fmt.Sprintf("%q: defaults may set spec fields only, not %s", d.Field, f)))
		} else if lacking := kindsLackingField(d.Field, s.Match.Kinds); len(lacking) > 0 {
			fix := "list the kinds that have it in spec.match.kinds"
			if len(s.Match.Kinds) > 0 {
				fix = "check the spelling against the kind's fields (skiff get KIND NAME -o yaml), or match only kinds that have it"
			}
			errs = append(errs, detail(dp.Child("field"), fmt.Sprintf("%q is not a field of %s: %s", d.Field, strings.Join(lacking, ", "), fix)))
		}
		if strings.TrimSpace(d.Expression) == "" {
			errs = append(errs, detail(dp.Child("expression"), "required: write a CEL expression for the value, e.g. 100 or \"registry.example.com/base\""))
		}
	}
	return errs
}

// kindsLackingField returns the kinds among names (every kind when names is
// empty) whose objects have no field at path, a dotted path of JSON names;
// a map's keys count as fields, and a path cannot lead into a list. Unknown
// kind names are left to their own check.
func kindsLackingField(path string, names []string) []string {
	var lacking []string
	for _, k := range kinds {
		if len(names) > 0 && !slices.Contains(names, k.Kind) {
			continue
		}
		if !hasFieldPath(reflect.TypeOf(k.New()).Elem(), strings.Split(path, ".")) {
			lacking = append(lacking, k.Kind)
		}
	}
	return lacking
}

func hasFieldPath(t reflect.Type, path []string) bool {
	for _, name := range path {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		switch t.Kind() {
		case reflect.Map:
			t = t.Elem()
			continue
		case reflect.Struct:
		default:
			return false
		}
		fields := map[string]reflect.Type{}
		collectFields(t, fields)
		ft, ok := fields[name]
		if !ok {
			return false
		}
		t = ft
	}
	return true
}
