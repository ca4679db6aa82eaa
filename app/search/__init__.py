"""Search across merchants and instruments (全局搜索), on a stored normalised text and a trigram index."""
