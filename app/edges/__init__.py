"""Where HTTP meets Keyrack, beside each other: authentication (`auth`), the security
headers and body limits every answer gets (`web`), the console's page (`console`), key
verification (`verify`), secret-scanning reports (`leaks`) and the REST API's description
(`openapi`). GraphQL's edge is `app/graphql/view.py`. Domains never import an edge."""
