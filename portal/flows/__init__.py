"""Steps that cross domains, one module per step.

A domain service never imports another domain's service; when a step needs several domains
(finalise an upload into evidence, withdraw, export a case, reconcile storage, audit content)
it lives here, written once and called by the API, the web pages and the CLI alike."""
