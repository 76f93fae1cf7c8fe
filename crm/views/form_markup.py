"""Small forms as markup built in Python (the municipality page's three, the status report's
period forms): the same HTML as WTForms' widgets inside Bootstrap-Flask's basic form layout
(``render_field(field, form_type='basic')``).

WTForms builds every attribute with ``Markup.format`` and lists a field's flags with ``dir``:
for the page's three forms (eleven fields) that cost about a fifth of the whole page. Here the
common widgets (text input, hidden, submit, textarea, single select) are written with plain
string formatting and ``escape``, attributes sorted and escaped exactly as WTForms'
``html_params`` does; any other widget, and a select with option groups or a datalist, is left to
WTForms itself. tests/test_form_markup.py holds the result to WTForms' own rendering.
"""
from flask import current_app
from markupsafe import Markup, escape
from wtforms.widgets import HiddenInput, Select, SubmitInput, TextArea, TextInput
from wtforms.widgets.core import clean_key

HIDDEN_TYPES = ("CSRFTokenField", "HiddenField")
_INPUTS = (TextInput, HiddenInput, SubmitInput)


def _params(attributes: dict) -> str:
    """WTForms' ``html_params``: sorted by the given names, True as a bare name, False left out."""
    parts = []
    for key, value in sorted(attributes.items()):
        if value is True:
            parts.append(clean_key(key))
        elif value is not False:
            parts.append(f'{escape(clean_key(key))}="{str(escape(value)).replace(chr(34), "&quot;")}"')
    return " ".join(parts)


def _with_flags(field, widget, attributes: dict, call_flags: bool) -> dict:
    """The widget's validation attributes (required, maxlength, ...) from the field's flags."""
    for name, value in vars(field.flags).items():
        if name in widget.validation_attrs and name not in attributes:
            attributes[name] = value() if call_flags and callable(value) else value
    return attributes


def widget_html(field, **attributes) -> Markup:
    """``field(**attributes)``: the field's widget with the field's ``render_kw`` under ``attributes``."""
    widget = field.widget
    kind = type(widget)
    if field.render_kw:
        attributes = {**{clean_key(k): v for k, v in field.render_kw.items()}, **attributes}
    attributes.setdefault("id", field.id)
    if kind in _INPUTS and getattr(field, "_datalist", None) is None:
        attributes.setdefault("type", widget.input_type)
        if kind is SubmitInput:
            attributes.setdefault("value", field.label.text)
        if "value" not in attributes:
            attributes["value"] = field._value()
        attributes = _with_flags(field, widget, attributes, call_flags=True)
        return Markup(f"<input {_params({'name': field.name, **attributes})}>")  # nosec B704: _params escapes
    if kind is TextArea:
        attributes = _with_flags(field, widget, attributes, call_flags=False)
        return Markup(  # nosec B704: attributes escaped by _params, the text by escape
            f"<textarea {_params({'name': field.name, **attributes})}>\r\n{escape(field._value())}</textarea>")
    if kind is Select and not widget.multiple and not field.has_groups():
        attributes = _with_flags(field, widget, attributes, call_flags=False)
        options = "".join(_option(choice) for choice in field._iter_choices_normalized())
        return Markup(  # nosec B704: attributes escaped by _params, options by _option
            f"<select {_params({'name': field.name, **attributes})}>{options}</select>")
    return field(**attributes)


def _option(choice) -> str:
    """WTForms' ``Select.render_option``."""
    value = str(choice.value) if isinstance(choice.value, bool) else choice.value
    attributes = {"value": value, **(choice.render_kw or {})}
    if choice.selected:
        attributes["selected"] = True
    return f"<option {_params(attributes)}>{escape(choice.label or choice.value)}</option>"


def _label(field) -> str:
    """``field.label(class_="form-label")``."""
    return f'<label class="form-label" for="{str(escape(field.label.field_id)).replace(chr(34), "&quot;")}">' \
           f"{escape(field.label.text)}</label>"


def form_field(field) -> Markup:
    """One field in Bootstrap-Flask's basic layout: label, widget, then its errors or else its description."""
    config = current_app.config
    if field.type == "SubmitField":
        return widget_html(field, **{"class": f"btn btn-{config['BOOTSTRAP_BTN_STYLE']} "
                                              f"btn-{config['BOOTSTRAP_BTN_SIZE']}"})
    if field.type in HIDDEN_TYPES:
        return widget_html(field)
    own_class = field.render_kw.get("class") if field.render_kw else None
    css = ("form-select" if field.type == "SelectField" else "form-control") \
        + (" is-invalid" if field.errors else "") + (f" {own_class}" if own_class else "")
    required = " required" if field.flags.required else ""
    notes = "".join(f'\n<div class="invalid-feedback d-block">{escape(error)}</div>' for error in field.errors)
    if not field.errors and field.description:
        notes = f'\n<small class="form-text text-body-secondary">{escape(field.description)}</small>'
    return Markup(  # nosec B704: label, widget and notes are escaped above, the group class is configuration
        f'<div class="{config["BOOTSTRAP_FORM_GROUP_CLASSES"]}{required}">{_label(field)}\n'
        f"{widget_html(field, **{'class': css})}{notes}\n</div>")


def simple_form(form, action: str, form_id: str) -> Markup:
    """A whole form: its hidden fields (and their errors, which have no place of their own) first,
    then each visible field."""
    hidden = [field for field in form if isinstance(field.widget, HiddenInput)]
    parts = [f'<form action="{escape(action)}" id="{escape(form_id)}" method="post" class="form" role="form" '
             f'novalidate>\n', "\n".join(str(widget_html(field)) for field in hidden)]
    parts += [f'\n<div class="invalid-feedback d-block">{escape(error)}</div>'
              for field in form if field.type in HIDDEN_TYPES for error in field.errors]
    parts += [f"\n{form_field(field)}" for field in form if field.type not in HIDDEN_TYPES]
    return Markup("".join(parts) + "\n</form>")  # nosec B704: every part is escaped above
