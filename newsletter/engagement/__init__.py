"""What readers do with an issue once it is sent.

clicks    tracked links (/l/): count a click, send the reader on
events    ESP webhook events (delivered, opened, clicked, bounced, complained,
          unsubscribed) applied to Delivery, and through subscribers'
          services to Subscription
webhooks  anymail's webhook views, guarded (credentials, unreadable payloads)
feedback  the one-click answers to the newsletter's feedback ask
stats     an issue's figures and a newsletter's growth, for editors
charts    those figures drawn as SVG
views     the reader-facing pages of clicks and feedback answers
"""
