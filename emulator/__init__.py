"""An emulated AWS for this project: the real template, state machine and handlers on moto, with
AWS's own rules where moto is permissive (emulator.strict, docs/aws-fidelity.md).

Used by the tests, `make demo` and `make demo-install`. Not deployed.

Its layers, from the bottom; a module imports from its own layer or lower ones, never higher, and no
two modules import each other, even through others (tests/unit/test_emulator_layers.py holds the table):

0. The strict layer's machinery, which knows no rule: emulator.strict.layer (botocore's hooks, `Call`,
   `Rule`, `AwsError`, `StrictAws` given its rules, `acting_as`), strict.shapes (an answer is one AWS
   could send), strict.dynamodb (DynamoDB's atomicity). The package emulator.strict re-exports the first.
1. AWS's rules, one module or package per part of AWS: strict.iam, strict.peerings, strict.network,
   strict.lattice (a database shared as a VPC resource: VPC Lattice, RAM, resource endpoints),
   strict.stepfunctions (the startExecution integration's names, which moto's interpreter gets wrong), strict.events
   (PutEvents on the caller's own buses only).
2. strict.rules: every rule, in the order AWS applies them.
3. The emulated AWS: emulator.aws (moto, the rules and DynamoDB's atomicity in this process:
   `emulated_aws`), emulator.server (the same over HTTP, for other processes).
4. template.yaml deployed onto it: emulator.template (reads the template as CloudFormation would),
   lambda_runtime (the handlers, run in process as their roles), network (the probe's DNS and TCP),
   custom_resources (CloudFormation's requests to a custom resource, and its ResponseURL), stack (functions,
   roles, tables, state machines and custom resources; executions; an update).
5. The world around a deployment: emulator.topology (the Nekt and customer accounts, VPCs,
   databases), accounts (reading and bending their state), apigateway (API Gateway's events),
   registry (seeding the connections table), databases (real database servers), wire_servers (MongoDB
   and an Oracle listener built from their protocols' specifications), certificates (their self-signed
   certificates, for the names a test chooses), costs (AWS's prices), installed_release (a release
   published to Nekt's buckets, its quick-create link, its template and objects read from its bucket, its
   package imported in place of functions/; Nekt's platform listening on its bus).
6. The tools, run as `python -m`: emulator.demo (`make demo`), emulator.events (`make events`),
   emulator.bench (`make bench`), emulator.demo_install (`make demo-install`).

A lower layer that needs something of a higher one is given it: `StrictAws(rules)` is handed its rules
by emulator.aws; the network rules are handed the lattice rules' book.
"""
