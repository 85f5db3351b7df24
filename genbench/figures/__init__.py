"""The figures a run draws from its model (genbench.artefacts) and a leaderboard shows: below the
runs and the leaderboards, so that a run draws them without importing what reads its records."""
