package kube

import (
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
)

type (
	k8sruntimeObject = k8sruntime.Object
	watchInterface   = watch.Interface
)
