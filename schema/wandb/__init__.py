"""The W&B dialect: a second GraphQL schema, in the vocabulary of the `wandb` SDK (projects,
entities, artifact portfolios and memberships), over Cairn's own resolvers."""
