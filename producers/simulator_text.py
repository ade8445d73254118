"""Built-in word lists for the simulator: agent names and chat lines.

Small on purpose: enough variety for a believable wallboard and for the sentiment and QA
features to have something to chew on (about one customer in five writes in a negative
tone), and nothing that needs a download.
"""

from __future__ import annotations

FIRST_NAMES: tuple[str, ...] = (
    "Aisha", "Alex", "Amelia", "Ana", "Andre", "Ben", "Carlos", "Chloe", "Daniel", "Diego",
    "Elena", "Emma", "Fatima", "Felix", "Grace", "Hannah", "Hiro", "Isabel", "Ivan", "Jada",
    "James", "Jonas", "Julia", "Kenji", "Laila", "Leo", "Lucas", "Maya", "Mei", "Mohammed",
    "Nadia", "Nina", "Noah", "Olivia", "Omar", "Priya", "Rafael", "Rosa", "Ryan", "Sara",
    "Sofia", "Tariq", "Tom", "Valentina", "Victor", "Wei", "Yusuf", "Zara", "Zoe", "Kwame",
)

LAST_NAMES: tuple[str, ...] = (
    "Adeyemi", "Alvarez", "Andersen", "Bauer", "Brooks", "Carter", "Chen", "Costa", "Dubois",
    "Evans", "Fischer", "Garcia", "Gupta", "Hansen", "Haddad", "Ibrahim", "Ito", "Jensen",
    "Kim", "Kowalski", "Larsen", "Lopez", "Martin", "Meyer", "Moreau", "Murphy", "Nakamura",
    "Nguyen", "Novak", "Okafor", "Olsen", "Park", "Patel", "Petrov", "Quinn", "Reyes", "Rossi",
    "Santos", "Schmidt", "Silva", "Singh", "Sato", "Taylor", "Torres", "Wagner", "Walsh",
    "Weber", "Wilson", "Yilmaz", "Zhang",
)

BOT_GREETING = "Thanks for reaching out! An agent will be with you shortly."

# What the customer writes while queued: (neutral, negative) by intent.
CUSTOMER_OPENERS: tuple[tuple[str, ...], tuple[str, ...]] = (
    (
        "Hi, I think I was charged twice for my last order.",
        "Hello, can you tell me where my order is? It's order {order}.",
        "My internet keeps dropping in the evening.",
        "I'd like to change the address on my account.",
        "How do I upgrade my plan?",
        "The app won't let me log in since yesterday.",
        "Can I get a copy of my last invoice?",
        "I want to return an item I bought last week.",
    ),
    (
        "This is the third time I'm contacting you about the same problem.",
        "I was charged twice and nobody is fixing it. Really frustrated.",
        "Your service has been down all morning, this is unacceptable.",
        "I want to cancel. I'm tired of waiting for a refund.",
        "Still no delivery for order {order}. Terrible service.",
    ),
)

AGENT_GREETINGS: tuple[str, ...] = (
    "Hi, this is {agent}. Thanks for waiting, let me look into that for you.",
    "Hello! {agent} here. I'm sorry for the trouble, I'll check right away.",
    "Hi there, my name is {agent}. Happy to help with this.",
)

AGENT_LINES: tuple[str, ...] = (
    "Could you confirm the email address on the account?",
    "Thanks, I can see the order here.",
    "I've applied a credit of {amount} to your account.",
    "I've reset the connection from our side. Could you try again?",
    "One moment while I check with the billing team.",
    "I've sent you a link to reset your password.",
    "The parcel is with the courier and should arrive tomorrow.",
    "I've updated the address, you'll get a confirmation email shortly.",
)

# Customer replies during the conversation: (neutral, negative).
CUSTOMER_LINES: tuple[tuple[str, ...], tuple[str, ...]] = (
    (
        "Sure, it's the one ending in {digits}.",
        "Ok, thanks.",
        "That worked, thank you!",
        "Ok, I'll wait.",
        "Great, that's what I needed.",
        "Yes, that's correct.",
    ),
    (
        "I already gave you that information.",
        "This is taking way too long.",
        "That doesn't help at all.",
        "Why is this so complicated?",
        "I've explained this twice already.",
    ),
)

CUSTOMER_LONG_WAIT = "Finally. I've been waiting for {minutes} minutes."

AGENT_CLOSINGS: tuple[str, ...] = (
    "Is there anything else I can help you with today?",
    "Thanks for chatting with us, have a great day!",
    "Glad I could help. Take care!",
)

CUSTOMER_CLOSINGS: tuple[tuple[str, ...], tuple[str, ...]] = (
    ("No, that's all. Thanks!", "Thank you, bye.", "Perfect, thanks for your help."),
    ("Whatever. I'll take my business elsewhere.", "Not impressed, but fine.",
     "I'll be leaving a review about this."),
)

# Voice calls, as speech-to-text gives them (no punctuation to speak of).
AGENT_CALL_LINES: tuple[str, ...] = (
    "thank you for calling this is {agent} how can I help",
    "can I have your account number please",
    "let me pull that up for you",
    "I'm going to put you on a short hold while I check",
    "thanks for holding I have the details here",
    "I can see the order was shipped on monday",
    "I've applied a credit of {amount} to the account",
    "is there anything else I can help with today",
)

# What the caller says: (neutral, negative). The negative lines include complaints that carry
# no negative word at all ("third hour on hold, still no answer").
CUSTOMER_CALL_LINES: tuple[tuple[str, ...], tuple[str, ...]] = (
    (
        "hi yes I'm calling about my last bill",
        "sure it's {digits}",
        "ok that makes sense",
        "yes the one from last week",
        "alright thank you",
        "perfect that's all I needed",
    ),
    (
        "third hour on hold still no answer",
        "I've called four times this week about the same thing",
        "I was told someone would call me back and nobody did",
        "I'm still waiting for my refund",
        "every time I call I get a different answer",
        "you charged me twice again",
        "the internet has been down since friday",
        "why do I have to explain this again",
        "this is the third person I've been transferred to",
    ),
)

# Said by some unhappy customers, in chats and calls: the escalation phrases the QA flags
# look for (stream/sentiment/config.py).
ESCALATIONS: tuple[str, ...] = (
    "I want to speak to a supervisor",
    "put me through to your manager",
    "if this isn't fixed today I will cancel my subscription",
    "I'm going to file a formal complaint",
    "I'll be talking to my lawyer about this",
    "I want to close my account",
)

# Chat complaints with no negative word, for the quiet kind of unhappy.
CUSTOMER_QUIET_COMPLAINTS: tuple[str, ...] = (
    "Still waiting for my refund, it's been three weeks.",
    "Third time I'm asking about order {order}.",
    "No one picks up the phone.",
    "Where is my package? The tracking hasn't updated since Monday.",
)
