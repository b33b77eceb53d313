"""The app's two screens: connecting, and chatting."""
