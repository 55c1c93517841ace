"""A client of Cairn's public API: pushing a folder as an artifact version and pulling one back,
for people and CI jobs without the W&B SDK. It knows only HTTP and the GraphQL schema."""
