"""Releases: versioned, downloadable snapshots of the data with a record-level changelog.

`versions` names releases (calendar versions) and finds them in dist/releases/; `package` writes
the Frictionless Data Package; `changelog` compares a release with the previous one; `publish`
writes a release folder all or nothing. Import from the submodules (validation imports
`versions` without pulling in the whole build).
"""
