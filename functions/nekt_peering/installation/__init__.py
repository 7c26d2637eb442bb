"""The customer's stack tells Nekt it was installed, updated or deleted (a CloudFormation custom resource)."""
