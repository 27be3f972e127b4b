def openapi_document(catalog, release):
    return {}
