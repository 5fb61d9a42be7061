"""The bottom floor: everything about making an email that needs no model.

rendering  email templates and MJML (render_email, mjml_to_html, RenderError,
           the per-recipient [[placeholders]])
text       editor Markdown to safe HTML and to plain text
tokens     every signed token: purposes, salts, lifetimes, reading them back
links      every URL that carries a token or a token slot, one way
messages   the one place an outgoing message and its list headers are made
languages  which language a reader's pages and emails speak (speaking)
outbox     the embedded default's ESP: .eml files under var/outbox/

Both apps use it; it imports neither.
"""
