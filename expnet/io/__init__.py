"""Job plumbing: safe image loading, input discovery, atomic writes, resumable side files,
shards, the label-file format, worker pools, figures and the summary line every command ends
with. Imports nothing else of expnet."""
