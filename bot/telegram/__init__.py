"""The Telegram front end: the only package that imports ``telegram``.

Handlers take the text out of an update, call ``Responder.respond()`` and render the ``Reply`` as
Telegram HTML with inline keyboards; everything about scoring and safety stays in ``bot/``.
Entry points: ``bot.telegram.app.build_application`` and ``bot.telegram.app.run_bot``.
"""
