"""The connection registry (a DynamoDB table): `store` is the item format and its reads, which the API shares;
`bookkeeping` the workflows' writes: the locks, and the count of who relies on which resource."""
