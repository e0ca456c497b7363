"""Grounded answers: retrieve with the live search, build a prompt of numbered passages, ask a chat model,
keep only the citations that name a passage. Used by `POST /ask`, `freshrag ask` and the MCP server.

`model` holds what an answer is made of, `routes` which route answers, `prompt` and `citations` the pure
steps around the model, `chat` the model itself, `service` the whole path."""
