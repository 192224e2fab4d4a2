"""A Telegram bot that answers questions about children's rights in Kazakhstan.

The package is split so that everything except ``bot.telegram`` runs without Telegram: the same
``respond()`` serves the Telegram bot, the terminal chat and the evaluation.
"""

__version__ = "0.1.0"
