package handlers

import (
	"golang.org/x/text/language"

	apierrors "github.com/clientele/clientele/errors"
)

// The locales of error messages; the first is the default.
var (
	supportedLocales = []language.Tag{
		language.MustParse("en-US"), language.MustParse("de-DE"),
		language.MustParse("fr-FR"), language.MustParse("es-ES"),
	}
	localeMatcher = language.NewMatcher(supportedLocales)
)

// messageTexts translates messages[0] of each detailCode; causes stay in
// English, marked as such.
var messageTexts = map[string][4]string{
	apierrors.CodeBadSyntax: {"The request could not be parsed.",
		"Die Anfrage konnte nicht gelesen werden.",
		"La requête n'a pas pu être analysée.",
		"No se pudo analizar la solicitud."},
	apierrors.CodeBadContent: {"The request content is not valid for this resource.",
		"Der Inhalt der Anfrage passt nicht zu dieser Ressource.",
		"Le contenu de la requête n'est pas valide pour cette ressource.",
		"El contenido de la solicitud no es válido para este recurso."},
	apierrors.CodeRequiredMissing: {"Required data is missing or empty.",
		"Erforderliche Daten fehlen oder sind leer.",
		"Des données obligatoires sont manquantes ou vides.",
		"Faltan datos obligatorios o están vacíos."},
	apierrors.CodeIllegalUpdate: {"The request attempts an illegal update.",
		"Die Anfrage versucht eine unzulässige Änderung.",
		"La requête tente une modification interdite.",
		"La solicitud intenta una modificación no permitida."},
	apierrors.CodeLengthOutOfRange: {"A value's length is out of range.",
		"Die Länge eines Wertes liegt außerhalb des zulässigen Bereichs.",
		"La longueur d'une valeur est hors limites.",
		"La longitud de un valor está fuera de rango."},
	apierrors.CodeIllegalValue: {"The request contains an illegal value.",
		"Die Anfrage enthält einen unzulässigen Wert.",
		"La requête contient une valeur interdite.",
		"La solicitud contiene un valor no permitido."},
	apierrors.CodeLimitViolation: {"The request exceeds a limit.",
		"Die Anfrage überschreitet eine Grenze.",
		"La requête dépasse une limite.",
		"La solicitud supera un límite."},
	apierrors.CodeForbidden: {"The caller is not allowed to perform this operation.",
		"Der Aufrufer darf diese Operation nicht ausführen.",
		"L'appelant n'est pas autorisé à effectuer cette opération.",
		"El llamante no tiene permiso para realizar esta operación."},
	apierrors.CodeNotFound: {"The requested resource was not found.",
		"Die angeforderte Ressource wurde nicht gefunden.",
		"La ressource demandée est introuvable.",
		"No se encontró el recurso solicitado."},
	apierrors.CodeMethodNotAllowed: {"The method is not allowed for this resource.",
		"Die Methode ist für diese Ressource nicht erlaubt.",
		"La méthode n'est pas autorisée pour cette ressource.",
		"El método no está permitido para este recurso."},
	apierrors.CodeConflict: {"The request conflicts with the current state of the resource.",
		"Die Anfrage widerspricht dem aktuellen Zustand der Ressource.",
		"La requête est en conflit avec l'état actuel de la ressource.",
		"La solicitud entra en conflicto con el estado actual del recurso."},
	apierrors.CodePreconditionFailed: {"A precondition of the request failed.",
		"Eine Vorbedingung der Anfrage ist nicht erfüllt.",
		"Une condition préalable de la requête a échoué.",
		"Falló una condición previa de la solicitud."},
	apierrors.CodePayloadTooLarge: {"The request body is too large.",
		"Der Rumpf der Anfrage ist zu groß.",
		"Le corps de la requête est trop volumineux.",
		"El cuerpo de la solicitud es demasiado grande."},
	apierrors.CodeUnsupportedMedia: {"The request's media type is not supported.",
		"Der Medientyp der Anfrage wird nicht unterstützt.",
		"Le type de média de la requête n'est pas pris en charge.",
		"El tipo de medio de la solicitud no es compatible."},
	apierrors.CodeInternal: {"An internal fault occurred.",
		"Ein interner Fehler ist aufgetreten.",
		"Une erreur interne s'est produite.",
		"Se produjo un error interno."},
	apierrors.CodeUnavailable: {"The service is temporarily unavailable; retry later.",
		"Der Dienst ist vorübergehend nicht verfügbar; bitte später erneut versuchen.",
		"Le service est temporairement indisponible ; réessayez plus tard.",
		"El servicio no está disponible temporalmente; inténtelo más tarde."},
}

// negotiateLocale picks the message locale for an Accept-Language header:
// the index into supportedLocales, and whether the header chose it.
func negotiateLocale(header string) (int, bool) {
	if header == "" {
		return 0, false
	}
	tags, _, err := language.ParseAcceptLanguage(header)
	if err != nil || len(tags) == 0 {
		return 0, false
	}
	_, index, confidence := localeMatcher.Match(tags...)
	if confidence == language.No {
		return 0, false
	}
	return index, true
}

// localize returns e with messages[0] in the negotiated locale. The causes
// keep their English text and say so.
func localize(e *apierrors.Error, acceptLanguage string) *apierrors.Error {
	index, requested := negotiateLocale(acceptLanguage)
	if !requested {
		return e
	}
	texts, ok := messageTexts[e.DetailCode]
	if !ok {
		return e
	}
	c := *e
	c.Messages = append([]apierrors.Message{{
		Locale:       supportedLocales[index].String(),
		LocaleOrigin: apierrors.OriginRequest,
		Text:         texts[index],
	}}, e.Messages[1:]...)
	return &c
}
