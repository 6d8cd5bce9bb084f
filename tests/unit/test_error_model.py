"""Every error answer has one documented shape and one way of naming what was invalid."""


def test_the_openapi_document_has_one_error_model(client):
    schemas = client.simulate_get("/openapi.json").json["components"]["schemas"]
    assert len([name for name in schemas if name.split(".")[0] in ("Error", "ErrorBody")]) == 1

