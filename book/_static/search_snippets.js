// Search result snippets from the page's text only (book/_ext/search_ranking.py adds this file to the
// search page). Sphinx takes a snippet from the theme's whole [role=main] block, which here also holds
// the page's contents list and the buttons, and from the page's source, where the mathematics is
// still TeX: "\(h_t \to h_{t+1}\)". This reads the article alone and writes TeX as plain symbols.
(() => {
  if (typeof Search === "undefined") return;
  const NOISE = ".headerlink, script, style, #jb-print-docs-body, .bd-sidebar-secondary, .prev-next-area";
  const SYMBOLS = {
    to: "→", in: "∈", odot: "⊙", otimes: "⊗", cdot: "·", times: "×", top: "ᵀ", le: "≤", leq: "≤",
    ge: "≥", geq: "≥", approx: "≈", sum: "∑", prod: "∏", partial: "∂", infty: "∞", mathbb: "", sqrt: "√",
    alpha: "α", beta: "β", gamma: "γ", delta: "δ", epsilon: "ε", eta: "η", theta: "θ", lambda: "λ",
    mu: "μ", rho: "ρ", sigma: "σ", tau: "τ", phi: "φ", omega: "ω", Delta: "Δ", Sigma: "Σ", ldots: "…",
    dots: "…", quad: " ", qquad: " ",
  };
  const plainTex = (tex) =>
    tex
      .replace(/\\(?:mathrm|mathbf|boldsymbol|operatorname|text|mathcal)\s*/g, "")
      .replace(/\\([A-Za-z]+)/g, (whole, name) => (name in SYMBOLS ? SYMBOLS[name] : name))
      .replace(/\\[,;!: ]/g, " ")
      .replace(/[{}]/g, "")
      .replace(/\s+/g, " ")
      .trim();
  const plainMath = (text) =>
    text.replace(/\\\(([\s\S]*?)\\\)|\\\[([\s\S]*?)\\\]|\$\$([\s\S]*?)\$\$/g, (m, a, b, c) =>
      plainTex(a ?? b ?? c),
    );
  Search.htmlToText = (htmlString, anchor) => {
    const html = new DOMParser().parseFromString(htmlString, "text/html");
    html.querySelectorAll(NOISE).forEach((element) => element.remove());
    const article = html.querySelector("article.bd-article") || html.querySelector('[role="main"]');
    if (!article) return "";
    const block = (anchor && article.querySelector(anchor)) || article;
    return plainMath(block.textContent);
  };
})();
