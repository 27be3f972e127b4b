"""The citizens' site: bilingual pages that answer "what did the city promise, by when, and who is responsible?".

Modules, one job each: `i18n` chooses the language and loads the string catalogues, `pages` queries the
database into template contexts, `figures` puts a target's figure into words, `reader` lays out a policy's
source text with its highlighted sentences, `charts` draws the indicator timeline, `markdown` renders the
about and methodology pages, `dictionary` generates the data dictionary from the schemas, `downloads` lists
the release files, and `routes` is the HTTP layer the Datasette plugin `plugins/site.py` registers.
"""
