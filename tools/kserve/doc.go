// Package kserve renders KServe InferenceService manifests
// (serving.kserve.io/v1beta1) for Kubernetes users who let KServe serve
// their models while modelgate decides the rollout: one manifest per
// canary step, each setting canaryTrafficPercent on the predictor, the
// last one promoting (the field left out, so the new revision takes all
// traffic), and a rollback manifest that sends everything back to the
// previous revision (canaryTrafficPercent: 0).
//
// The renderer only writes YAML; applying it (kubectl apply, Argo CD,
// Flux) is left to the user's deployment tooling.
package kserve
