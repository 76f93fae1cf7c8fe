"""The web side: one blueprint per area (registered by the factory), forms beside their views."""
