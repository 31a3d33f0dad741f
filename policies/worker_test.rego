package modelgate.authz_test

import data.modelgate.authz

# The weakest token that can cause work: a worker's. It may take tasks
# and fetch blobs, and nothing else — not even read.
worker := {"subject": "worker-1", "roles": ["worker"], "groups": []}

worker_refused := [
	"trigger", "upload", "train", "train_network", "approve", "reject", "promote",
	"rollback", "abort", "reload", "read", "configure",
]

test_worker_takes_tasks_and_blobs if {
	authz.allow with input as {"principal": worker, "action": "work", "model": "fraud-detector", "environment": "production"}
	authz.allow with input as {"principal": worker, "action": "blob_read", "model": "fraud-detector", "environment": "production"}
}

test_worker_can_do_nothing_else if {
	every a in worker_refused {
		got := authz.allow with input as {"principal": worker, "action": a, "model": "fraud-detector", "environment": "production"}
		expect([worker.subject, a, "fraud-detector", "production", false], got)
	}
}

test_only_workers_and_admin_work if {
	every name in ["ci", "trainer", "reviewer", "operator", "viewer", "nobody"] {
		not authz.allow with input as {"principal": principals[name], "action": "work", "model": "fraud-detector", "environment": "production"}
		not authz.allow with input as {"principal": principals[name], "action": "blob_read", "model": "fraud-detector", "environment": "production"}
	}
	authz.allow with input as {"principal": principals.admin, "action": "work", "model": "fraud-detector", "environment": "production"}
}

test_worker_scoped_to_its_models if {
	scope := {"model_groups": {"fraud-detector": ["fraud-team"]}}
	not authz.allow with input as {"principal": worker, "action": "work", "model": "fraud-detector", "environment": "production"}
		with data.modelgate.settings.authz as scope
	scoped_worker := {"subject": "worker-2", "roles": ["worker"], "groups": ["fraud-team"]}
	authz.allow with input as {"principal": scoped_worker, "action": "work", "model": "fraud-detector", "environment": "production"}
		with data.modelgate.settings.authz as scope
}
