// The search scorer of the book (book/_ext/search_ranking.py says why): Sphinx's own weights, plus a
// bonus for chapters, larger for the chapter whose file name contains a word of the query.
var Scorer = {
  CHAPTER: /(^|\/)\d\d-[^/]*$/,
  chapterBonus: 10,
  topicBonus: 30,

  queryWords: () => {
    const query = new URLSearchParams(window.location.search).get("q") || "";
    return query.toLowerCase().split(/[^a-z0-9]+/).filter((word) => word.length > 1);
  },

  score: (result) => {
    const [docname, , , , score] = result;
    if (!Scorer.CHAPTER.test(docname)) return score;
    const slug = docname.split("/").pop().toLowerCase().split("-").slice(1);
    const topical = Scorer.queryWords().some((word) => slug.includes(word));
    return score + Scorer.chapterBonus + (topical ? Scorer.topicBonus : 0);
  },

  // Sphinx's defaults (sphinx/themes/basic/static/searchtools.js)
  objNameMatch: 11,
  objPartialMatch: 6,
  objPrio: { 0: 15, 1: 5, 2: -5 },
  objPrioDefault: 0,
  title: 15,
  partialTitle: 7,
  term: 5,
  partialTerm: 2,
};
