"""The Convertr dialect, under ``/convertr``: a conversion answered at once (with a key, or
anonymously by a hashed client label), client registrations, and the pair reliability stats."""

from service.api.dialects.convertr.routes import ConvertrController

#: Every controller of the dialect, for the app.
CONTROLLERS = (ConvertrController,)
