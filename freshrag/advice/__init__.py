"""The RAG-or-fine-tune advice: the articles' decision framework (../shared/seeds) applied to what freshrag
observes. `figures` gathers the observations, `framework` turns them into a recommendation with the figures
behind each finding, and says plainly which questions it has too little data for."""
