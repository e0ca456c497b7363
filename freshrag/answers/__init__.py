"""Grounded answers: retrieve with the live search, build a prompt of numbered passages, ask a chat model,
keep only the citations that name a passage. Used by `POST /ask`, `freshrag ask` and the MCP server."""

from freshrag.answers.chat import ChatError, ChatModel, OpenAIChat
from freshrag.answers.model import Answer, AskRequest, Citation, Done, Outcome, Restart, Route, Token
from freshrag.answers.service import AnswerService, build_answer_service

__all__ = [
    "Answer",
    "AnswerService",
    "AskRequest",
    "ChatError",
    "ChatModel",
    "Citation",
    "Done",
    "OpenAIChat",
    "Outcome",
    "Restart",
    "Route",
    "Token",
    "build_answer_service",
]
