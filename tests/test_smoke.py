from tests.support.graphql import GraphQLClient


async def test_viewer(ada: GraphQLClient) -> None:
    data = await ada.data("{ viewer { name organizations { name } } }")
    assert data["viewer"] == {"name": "ada", "organizations": [{"name": "acme"}]}
