"""sklearn_genre: scikit-learn compatible music genre classification."""

__version__ = "0.1.0"
