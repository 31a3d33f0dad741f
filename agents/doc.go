// Package agents defines the contract between the coordinator and the
// agents that do a run's work: the Agent interface, the Task an agent is
// given and the Report it returns. One sub-package per agent (testing,
// security, evaluation, deployment) implements it.
//
// An agent never decides a promotion: it measures and reports. What a
// finding means is decided by the oversight layer's policies.
package agents
