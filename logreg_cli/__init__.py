"""logreg-cli: text classification with logistic regression from the shell."""

__version__ = "0.1.0"
