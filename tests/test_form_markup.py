"""``crm.views.form_markup`` writes exactly what WTForms' widgets and the Bootstrap-Flask layout the
municipality page used as Jinja macros write: empty forms, submitted input with errors, values to
escape, the CSRF token."""
import pytest
from flask import render_template_string
from werkzeug.datastructures import MultiDict

from crm.views.form_markup import form_field, simple_form, widget_html
from crm.views.municipalities import NoteForm, StageChangeForm
from crm.views.tasks import TaskForm

# The macros the page had before (templates/municipalities/_forms.html), kept as the reference.
MACROS = """
{% macro form_field(field) -%}
{%- if field.type == 'SubmitField' -%}
{{ field(class='btn btn-%s btn-%s' % (config.BOOTSTRAP_BTN_STYLE, config.BOOTSTRAP_BTN_SIZE)) }}
{%- elif field.type in ('CSRFTokenField', 'HiddenField') -%}
{{ field() }}
{%- else -%}
<div class="{{ config.BOOTSTRAP_FORM_GROUP_CLASSES }}{% if field.flags.required %} required{% endif %}">{{ field.label(class='form-label') }}
{{ field(class=('form-select' if field.type == 'SelectField' else 'form-control') ~ (' is-invalid' if field.errors else '')
         ~ (' ' ~ field.render_kw.class if field.render_kw and field.render_kw.class else '')) }}
{%- for error in field.errors %}
<div class="invalid-feedback d-block">{{ error }}</div>
{%- else %}{% if field.description %}
<small class="form-text text-body-secondary">{{ field.description }}</small>{% endif %}
{%- endfor %}
</div>
{%- endif %}
{%- endmacro %}
{% macro simple_form(form, action, id) -%}
<form action="{{ action }}" id="{{ id }}" method="post" class="form" role="form" novalidate>
{{ form.hidden_tag() }}
{%- for field in form if field.type in ('CSRFTokenField', 'HiddenField') %}{% for error in field.errors %}
<div class="invalid-feedback d-block">{{ error }}</div>{% endfor %}{% endfor %}
{%- for field in form if field.type not in ('CSRFTokenField', 'HiddenField') %}
{{ form_field(field) }}
{%- endfor %}
</form>
{%- endmacro %}
"""

SUBMITTED = {
    "task": MultiDict({"task-text": 'Ring "Anne" & <b>Bo</b>', "task-owner": "nobody", "task-due": "31-02-2026",
                       "task-version": '3"'}),
    "stage": MultiDict({"stage-stage": "paused", "stage-effective_date": "2999-01-01",
                        "stage-note": "x" * 2001}),
    "note": MultiDict({"note-note_date": "", "note-text": "<script>"}),
}


def _forms(submitted: bool):
    def data(prefix):
        return SUBMITTED[prefix] if submitted else None
    forms = [TaskForm(formdata=data("task"), prefix="task"),
             StageChangeForm(formdata=data("stage"), prefix="stage", stage="dialogue"),
             NoteForm(formdata=data("note"), prefix="note")]
    for form in forms:
        if submitted:
            form.validate()
        for field in form:  # a hint shows only on a field without errors
            if field.type != "SubmitField" and not field.errors:
                field.description = 'Højst 2000 tegn & "kort"'
                break
    return forms


@pytest.mark.parametrize("csrf", [False, True])
@pytest.mark.parametrize("submitted", [False, True])
def test_form_markup_is_the_macros(app, users, csrf, submitted):
    app.config["WTF_CSRF_ENABLED"] = csrf
    try:
        with app.test_request_context("/kommuner/101", method="POST" if submitted else "GET"):
            for form in _forms(submitted):
                expected = render_template_string(MACROS + "{{ simple_form(form, '/a?b=1&c=\"', 'f') }}"
                                                  "{% for field in form %}{{ form_field(field) }}|{% endfor %}",
                                                  form=form).lstrip("\n")  # the definitions' own lines
                written = str(simple_form(form, '/a?b=1&c="', "f")) + "".join(
                    f"{form_field(field)}|" for field in form)
                assert written == expected
                for field in form:
                    for attributes in ({}, {"class": "x y"}, {"data_picker": "a<b", "rows": 4}):
                        assert widget_html(field, **attributes) == field(**attributes)
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
