"""The signup form on other people's sites: the copy-paste snippet, the iframe
page's policy, and the checks that stand in for the CSRF token there.

A form on the editor's blog cannot carry our CSRF token, so the embed endpoint
takes cross-site POSTs. What protects it instead: the honeypot, the per-IP and
per-mailbox limits and the daily share of confirmation emails per mailbox
(subscribers.form_limits, subscribers.mailbox_quota), double opt-in, and,
where the page runs JavaScript, two checks that need no third party:

- the iframe page carries a signed time token: a post sooner than
  MIN_SECONDS after the page was served (no person types that fast) or with
  a token older than a day is refused;
- a tiny inline script finds a nonce whose SHA-256, with the address and the
  time, starts with PROOF_BITS zero bits (a few thousand hashes: nothing for
  one reader, a cost for a bot posting thousands).

A post without JavaScript carries neither and still works; a post that
carries a wrong one is a bot's, and is answered as if it worked.
"""

import hashlib
import time
from base64 import b64encode
from html import escape

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext

from config.security import PUBLIC
from mail import tokens
from mail.languages import speaking
from newsletter.models import Newsletter

MIN_SECONDS = 2
PROOF_BITS = 12
PROOF_MAX_AGE = 24 * 3600
PROOF_AHEAD = 300  # a reader's clock may run a few minutes fast

# Runs on the iframe page (allowed there by its hash) and inside the snippet.
# Without crypto.subtle (a plain-HTTP page) the form goes as it is.
PROOF_SCRIPT = (
    "(function(f){if(!f||!window.crypto||!crypto.subtle||!window.TextEncoder)return;"
    "var done=false;f.addEventListener('submit',function(e){if(done)return;e.preventDefault();"
    "var t=String(Date.now()),m=(f.elements.email.value||'').trim().toLowerCase(),n=0;"
    "function zero(b){for(var i=0,k=BITS;k>0;i++,k-=8){var v=b[i];if(k>=8){if(v)return false}"
    "else if(v>>(8-k))return false}return true}"
    "function next(){var s=new TextEncoder().encode(t+':'+n+':'+m);"
    "crypto.subtle.digest('SHA-256',s).then(function(h){if(zero(new Uint8Array(h))){"
    "f.elements.proof.value=t+':'+n;done=true;f.submit()}else{n++;next()}})}next()})})"
    "(document.currentScript&&document.currentScript.previousElementSibling)"
).replace("BITS", str(PROOF_BITS))
PROOF_SCRIPT_HASH = "sha256-" + b64encode(hashlib.sha256(PROOF_SCRIPT.encode()).digest()).decode()


# -- the checks --------------------------------------------------------------


def form_token(newsletter: Newsletter) -> str:
    return tokens.make_token("embed-form", {"n": newsletter.pk, "t": int(time.time())})


def token_problem(newsletter: Newsletter, token: str) -> str | None:
    """None for a good time token; "stale" for one of ours past its day (a page
    left open: the reader may reload), "bot" for anything else wrong."""
    try:
        payload = tokens.read_token("embed-form", token)
    except tokens.ExpiredToken:
        return "stale"
    except tokens.BadToken:
        return "bot"
    issued = payload.get("t")
    if payload.get("n") != newsletter.pk or not isinstance(issued, int):
        return "bot"
    return "bot" if time.time() - issued < MIN_SECONDS else None


def proof_holds(proof: str, email: str) -> bool:
    """Does `proof` ("millis:nonce", from PROOF_SCRIPT) hold for this address, now?"""
    stamp, _, nonce = proof.partition(":")
    if not (stamp.isdigit() and nonce.isdigit()) or len(proof) > 40:
        return False
    age = time.time() - int(stamp) / 1000
    if not -PROOF_AHEAD <= age <= PROOF_MAX_AGE:
        return False
    digest = hashlib.sha256(f"{stamp}:{nonce}:{email.strip().lower()}".encode()).digest()
    return int.from_bytes(digest[:4]) >> (32 - PROOF_BITS) == 0


# -- the policy of the embed pages ------------------------------------------------


def content_security_policy(newsletter: Newsletter) -> str:
    """The public policy, but framable by the listed origins (none: by no one),
    running the proof script, and letting a signup return to a listed origin."""
    origins = " ".join(newsletter.listed_origins)
    policy = PUBLIC.replace("script-src 'none'", f"script-src '{PROOF_SCRIPT_HASH}'")
    policy = policy.replace("form-action 'self'", f"form-action 'self' {origins}".rstrip())
    ancestors = origins or "'none'"
    return policy.replace("frame-ancestors 'none'", f"frame-ancestors {ancestors}")


# -- what the editor copies ------------------------------------------------------


def endpoint(newsletter: Newsletter) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("signup_embed", args=[newsletter.slug])


def snippet(newsletter: Newsletter, *, next_url: str = "") -> str:
    """A plain form for any page: works without JavaScript; with it, adds the proof.
    Its words in the newsletter's language, as on our own signup page."""
    action = escape(endpoint(newsletter))
    back = f'\n  <input type="hidden" name="next" value="{escape(next_url)}">' if next_url else ""
    with speaking(newsletter):
        email, name = gettext("Email address"), gettext("Name (optional)")
        honeypot, subscribe = gettext("Leave this field empty"), _subscribe_to(newsletter)
    return f"""<form method="post" action="{action}" class="letterpress-signup">
  <label>{escape(email)} <input type="email" name="email" required autocomplete="email"></label>
  <label>{escape(name)} <input type="text" name="name" autocomplete="name"></label>
  <div style="position:absolute;left:-9999px" aria-hidden="true">
    <label>{escape(honeypot)}
      <input type="text" name="website" tabindex="-1" autocomplete="off"></label>
  </div>
  <input type="hidden" name="proof" value="">{back}
  <button type="submit">{escape(subscribe)}</button>
</form>
<script>{PROOF_SCRIPT}</script>"""


def iframe_snippet(newsletter: Newsletter) -> str:
    src = escape(endpoint(newsletter))
    with speaking(newsletter):
        title = escape(_subscribe_to(newsletter))
    return (
        f'<iframe src="{src}" title="{title}" width="100%" height="420" '
        'style="border:0;max-width:480px" loading="lazy"></iframe>'
    )


def _subscribe_to(newsletter: Newsletter) -> str:
    return gettext("Subscribe to %(name)s") % {"name": newsletter.name}
