"""The identity check before appointments are shown or changed: the date of birth of a patient of the number."""
