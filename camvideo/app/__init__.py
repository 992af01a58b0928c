"""The window's state, without Qt: what the app is doing, in one place per concern.

Each class here holds one part of the desktop app's state and moves it on the
events that change it (a load asked for, a model ready, a load failed; ...), and
says what the widgets show. The widgets (``camvideo.qt``) render it and send
intents; the unit tests (``tests/app/``) drive it without a window. Nothing here
imports Qt, torch or numpy.
"""
