// The report's inline style sheet (light and dark schemes, print friendly).
export const STYLE = `
:root{color-scheme:light dark;--fg:#1d2327;--muted:#5f6b73;--bg:#fff;--line:#d8dee2;
--a:#2f6fdf;--b:#d9822b;--c:#2e9d62;--ref:#cfd8e3}
@media (prefers-color-scheme:dark){:root{--fg:#e6e9eb;--muted:#9aa6ae;--bg:#15191c;
--line:#30383e;--ref:#34404b}}
body{font:14px/1.45 system-ui,sans-serif;color:var(--fg);background:var(--bg);margin:2rem auto;
max-width:72rem;padding:0 1rem}
h1{font-size:1.4rem;margin:0 0 .25rem}h2{font-size:1.1rem;margin:2rem 0 .5rem}
h3{font-size:1rem;margin:1.2rem 0 .4rem}.muted{color:var(--muted)}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{border-bottom:1px solid var(--line);padding:.3rem .5rem;text-align:left;vertical-align:top}
td.n,th.n{text-align:right;white-space:nowrap}details{border:1px solid var(--line);border-radius:6px;
padding:.5rem 1rem;margin:.75rem 0}summary{cursor:pointer;font-weight:600}
pre{background:color-mix(in srgb,var(--line) 35%,transparent);padding:.5rem;overflow:auto;
border-radius:4px}.charts{display:flex;flex-wrap:wrap;gap:1.5rem}
svg.chart{max-width:100%;height:auto;font:11px system-ui,sans-serif}
svg .l{text-anchor:end;fill:var(--fg)}svg .v{fill:var(--muted)}svg .a{fill:var(--a)}
svg .b{fill:var(--b)}svg .c{fill:var(--c)}svg .ref{fill:var(--ref)}
.warn{color:var(--b)}
`;
