"""The curator's workbench: links collected, filled in from their pages,
checked before an issue goes out."""
