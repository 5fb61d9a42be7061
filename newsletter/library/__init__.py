"""The archive as a library for readers: search across every sent issue
(`search`, over the entries `index` keeps in step, matched the way `schema`
sets up for each database), a page per link, the sites a newsletter links to
(`sources`), the links readers clicked most in a year (`popular`), and the
editor's "best of" draft made from those (`best_of`)."""
