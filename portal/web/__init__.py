"""Web pages: the witness's consent, upload, receipt and status pages and the staff pages.

`portal.web.router.router` serves everything under `/web` (templates and static files are
package data), one page group per module of `portal.web.pages`;
`portal.web.router.root_router` redirects `/` to the witness start page.
"""
