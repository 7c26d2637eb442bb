"""The connect workflow's own stages, over every path: Discover (the facts), the choice of path, Preflight
(the plan, before any change), and Verify (the path checked and probed). Each path's stages are in its package."""
