"""Keys of the custom payload the bot's last message of a turn may carry, read by the tracker store and the WhatsApp
channel (a leaf module, so neither depends on the other or on carebot.privacy).

FORGET_CONVERSATION: the tracker store deletes the conversation instead of saving the turn (erasure, consent
withdrawn). FORGET_NUMBER: the WhatsApp channel also forgets its own state of the number once the reply has left
(erasure only: an opt-out survives a withdrawal). FORGET_SINCE: the tracker store deletes the conversation's stored
events from this timestamp on before saving the turn (a medicine-reminder request whose consent was declined: "I
won't keep any medicine names")."""

FORGET_CONVERSATION = "forget_conversation"
FORGET_NUMBER = "forget_number"
FORGET_SINCE = "forget_since"
