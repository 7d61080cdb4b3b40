"""Conversation review: staff read a conversation turn by turn and mark a misread message with the intent it meant;
the marks become NLU examples a designer commits (`python -m carebot.review export`)."""
