"""The summary page's style, and the Content-Security-Policy that allows exactly it: the
page loads nothing and runs nothing, so its one stylesheet is inline and named by hash.

The policy is given twice. The page carries it in a <meta> element, so a saved copy keeps
it; and the gateway serves it as the response header, because a browser enforces every
policy it is given and the gateway's strict default header (default-src 'none') would
otherwise block the stylesheet. `frame-ancestors` is honoured only in a header."""

from __future__ import annotations

import base64
import hashlib

CSS = """\
:root{color-scheme:light}
body{font:16px/1.45 system-ui,-apple-system,"Segoe UI",Arial,sans-serif;color:#111;\
margin:0 auto;max-width:46rem;padding:.75rem}
h1{font-size:1.5rem;margin:0 0 .25rem}h2{font-size:1.05rem;margin:.9rem 0 .3rem;\
border-bottom:1px solid #bbb}
a{color:#0b4f9c}
.urgency{border:3px solid #111;padding:.6rem .8rem;margin-bottom:.6rem}
.priority{display:inline-block;font-weight:700;text-transform:uppercase}
.priority-emergency,.priority-very-urgent{color:#b00020}
.urgency-very-urgent{border-color:#b00020}
.urgency-emergency{background:#b00020;border-color:#b00020;color:#fff;\
-webkit-print-color-adjust:exact;print-color-adjust:exact}
.urgency-emergency .priority,.urgency-emergency .kind,.urgency-emergency .late{color:#fff}\
.urgency-emergency .overdue{color:#fff;text-decoration:underline}
.respond{font-size:1.2rem;margin:.2rem 0}.overdue{color:#b00020;font-weight:700}
.late{margin:.2rem 0;color:#b00020}
.kind{margin:.2rem 0;color:#333}
.ladder{border-left:6px solid #0b4f9c;background:#eef3fa;padding:.35rem .7rem;margin:.6rem 0}\
.ladder p{margin:0}
.withheld{border:2px solid #8a4b00;padding:.35rem .7rem;margin:.6rem 0}
.safeguarding{border-left:6px solid #6b2c91;background:#f5eefa;padding:.35rem .7rem;\
margin:.6rem 0}.safeguarding h2{border:0;margin:0;font-size:1rem}\
.safeguarding ul{margin:.2rem 0;padding-left:1.2rem}
.ask{font-size:1.1rem;margin:.2rem 0}
.callback{font-size:1.3rem;font-weight:700;margin:.2rem 0}
.source,.who{margin:.15rem 0;color:#333}
.incomplete{border:3px dashed #8a4b00;background:#fff6e5;padding:.5rem .8rem;margin:.8rem 0}
.incomplete h2{border:0;margin:0;color:#8a4b00}.incomplete ul{margin:.3rem 0}
dl{display:grid;grid-template-columns:minmax(8rem,max-content) 1fr;gap:.15rem .8rem;margin:0}
dt{font-weight:600;color:#333}dd{margin:0}
.text{white-space:pre-line;margin:.2rem 0}
ul.risks{list-style:none;padding:0;margin:0}ul.risks li{margin:.35rem 0}
.badge{display:inline-block;border:2px solid currentColor;border-radius:.3rem;\
padding:0 .35rem;font-weight:700;font-size:.9rem}
.level-high{color:#b00020}.level-medium{color:#8a4b00}.level-low{color:#1d5e20}\
.level-unstated{color:#444}
.meta{font-size:.8rem;color:#444;margin-top:1.5rem;border-top:1px solid #bbb;padding-top:.4rem}
@media (min-width:64rem){body{max-width:72rem}\
.decide{display:grid;grid-template-columns:1fr 1fr;gap:0 2rem}\
body>section:not(.ladder):not(.incomplete):not(.safeguarding),body>footer{max-width:46rem}}
@media (max-width:30rem){dl{grid-template-columns:1fr}dd{margin-bottom:.3rem}}
@media print{body{max-width:none;font-size:11pt}a{color:inherit;text-decoration:none}\
section{break-inside:avoid}}
"""
_CSS_HASH = base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
CSP = f"default-src 'none'; style-src 'sha256-{_CSS_HASH}'; base-uri 'none'; form-action 'none'"
HEADER_CSP = f"{CSP}; frame-ancestors 'none'"
